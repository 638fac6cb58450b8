"""The scripted clinic scenario: paths through the dialog, grammar, history."""

import pytest
from call_api.providers.dialog.scenario_file import ScenarioError, load_scenario, parse_scenario
from call_api.providers.text import sentences


async def say(stream) -> list[str]:
    return [sentence.strip() async for sentence in stream]


async def test_happy_path_books_an_appointment(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna")
    assert await say(dialog.greeting()) == [
        "Hello Anna, this is the city clinic.",
        "Would you like to book an appointment?",
    ]
    assert "yes please" in dialog.expected_phrases() and "goodbye" in dialog.expected_phrases()
    assert await say(dialog.reply("Yes, please.")) == ["Which day suits you, Monday, Wednesday or Friday?"]
    assert "wednesday" in dialog.expected_phrases() and "yes please" not in dialog.expected_phrases()
    assert await say(dialog.reply("wednesday")) == ["Morning or afternoon?"]
    assert not dialog.finished
    reply = await say(dialog.reply("in the morning"))
    assert reply == ["Thank you, Anna.", "Your appointment is booked for Wednesday morning.", "Goodbye."]
    assert dialog.finished and dialog.expected_phrases() == ()
    assert await say(dialog.reply("hello?")) == []


async def test_one_answer_can_fill_two_questions(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Bob")
    await say(dialog.greeting())
    await say(dialog.reply("yes"))
    assert await say(dialog.reply("friday afternoon")) == [
        "Thank you, Bob.",
        "Your appointment is booked for Friday afternoon.",
        "Goodbye.",
    ]


async def test_no_ends_politely(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna")
    await say(dialog.greeting())
    assert await say(dialog.reply("no thank you")) == [
        "No problem.",
        "Thank you for your time, Anna.",
        "Goodbye.",
    ]
    assert dialog.finished


async def test_unrecognised_answers_are_reprompted_twice_then_goodbye(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna")
    await say(dialog.greeting())
    reprompt = [
        "Sorry, I did not catch that.",
        "Would you like to book an appointment?",
        "Please say yes or no.",
    ]
    assert await say(dialog.reply("banana")) == reprompt
    assert await say(dialog.reply("")) == reprompt  # silence counts too
    assert not dialog.finished
    assert await say(dialog.reply("purple elephant")) == [
        "Sorry, I could not understand you.",
        "Please call us again later.",
        "Goodbye.",
    ]
    assert dialog.finished


async def test_an_understood_answer_resets_the_reprompts(clinic_dialog) -> None:
    dialog = clinic_dialog()
    await say(dialog.greeting())
    await say(dialog.reply("banana"))
    await say(dialog.reply("banana"))
    await say(dialog.reply("yes"))
    await say(dialog.reply("banana"))
    assert not dialog.finished and dialog.state.name == "day"


async def test_repeat_and_global_goodbye(clinic_dialog) -> None:
    dialog = clinic_dialog()
    greeting = await say(dialog.greeting())
    assert greeting[0] == "Hello there, this is the city clinic."  # the scenario's default contact_name
    assert await say(dialog.reply("could you repeat that please")) == greeting
    await say(dialog.reply("yes"))
    assert await say(dialog.reply("goodbye")) == ["Thank you for calling the city clinic.", "Goodbye."]
    assert dialog.finished


async def test_record_heard_keeps_only_the_heard_part(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna")
    await say(dialog.greeting())
    dialog.record_heard("Hello Anna, this is")
    assert [(t.role, t.text) for t in dialog.history.turns] == [("bot", "Hello Anna, this is")]
    await say(dialog.reply("yes"))
    dialog.record_heard("")
    assert [(t.role, t.text) for t in dialog.history.turns] == [
        ("bot", "Hello Anna, this is"),
        ("caller", "yes"),
    ]


async def test_caller_values_are_cleaned(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna\n{clinic_name}   " + "x" * 500)
    first = (await say(dialog.greeting()))[0]
    assert "\n" not in first and "{clinic_name}" in first and len(first) < 200


async def test_dialogs_do_not_share_state(clinic_dialog) -> None:
    one, two = clinic_dialog(contact_name="A"), clinic_dialog(contact_name="B")
    await say(one.greeting())
    await say(two.greeting())
    await say(one.reply("yes"))
    assert one.state.name == "day" and two.state.name == "offer"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            {"states": {"a": {"say": "hi", "intents": {"x": {"phrases": ["y"], "next": "nowhere"}}}}},
            "nowhere",
        ),
        ({"states": {"a": {"say": "hi {who}", "end": True}}}, "who"),
        ({"start": "b", "states": {"a": {"say": "hi", "end": True}}}, "start"),
        ({"states": {"a": {"say": "hi", "intents": {"x": {"phrases": []}}}}}, "phrases"),
        ({"states": {"a": {"say": "hi", "intents": {"x": {"digits": ["12"]}}}}}, "DTMF keys"),
        ({"states": {"a": {"say": "hi", "intents": {"x": {"digits": ["E"]}}}}}, "DTMF keys"),
        (
            {
                "states": {
                    "a": {"say": "hi", "intents": {"x": {"digits": [0], "transfer": {"target": "http://x"}}}}
                }
            },
            "target URI",
        ),
        (
            {
                "states": {
                    "a": {"say": "hi", "intents": {"x": {"digits": [0], "transfer": {"target": "{nobody}"}}}}
                }
            },
            "nobody",
        ),
        (
            {
                "states": {
                    "a": {
                        "say": "hi",
                        "intents": {"x": {"digits": [0], "end": True, "transfer": {"target": "sip:a@b"}}},
                    }
                }
            },
            "transfer",
        ),
    ],
)
def test_broken_scenarios_are_refused_at_load(raw, problem) -> None:
    with pytest.raises(ScenarioError, match=problem):
        parse_scenario(raw)


async def test_the_stream_cuts_into_the_same_sentences(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna")
    assert [s async for s in sentences(dialog.greeting())] == [
        "Hello Anna, this is the city clinic.",
        "Would you like to book an appointment?",
    ]


def test_the_shipped_scenario_loads() -> None:
    scenario = load_scenario()
    assert scenario.start == "offer" and scenario.states["booked"].end


async def test_keys_choose_intents_like_words(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna")
    await say(dialog.greeting())
    assert await say(dialog.reply_to_digit("1")) == ["Which day suits you, Monday, Wednesday or Friday?"]
    assert await say(dialog.reply_to_digit("2")) == ["Morning or afternoon?"]
    assert await say(dialog.reply_to_digit("9")) == ["Sorry, would you prefer the morning or the afternoon?"]
    assert dialog.take_transfer() is None
    assert ("caller", "(pressed 9)") in [(turn.role, turn.text) for turn in dialog.history.turns]


async def test_zero_transfers_to_the_reception_and_a_failure_goes_on(clinic_dialog) -> None:
    dialog = clinic_dialog(contact_name="Anna")
    await say(dialog.greeting())
    assert await say(dialog.reply_to_digit("0")) == ["Connecting you to the reception."]
    assert dialog.take_transfer() == "sip:reception@127.0.0.1"
    assert dialog.take_transfer() is None  # taken once
    assert not dialog.finished
    assert await say(dialog.transfer_failed("transfer failed 486")) == [
        "Sorry, the reception cannot take your call right now.",
        "Hello Anna, this is the city clinic.",
        "Would you like to book an appointment?",
    ]
    assert await say(dialog.reply_to_digit("2")) == [
        "No problem.",
        "Thank you for your time, Anna.",
        "Goodbye.",
    ]
    assert dialog.finished
