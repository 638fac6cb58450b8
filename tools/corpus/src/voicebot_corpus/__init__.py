"""A generated false-barge-in corpus (deterministic from a seed), its offline detector evaluation, and
the barge-in detector the figures chose (`voicebot_corpus.barge_in`)."""
