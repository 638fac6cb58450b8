"""voicebot_stack: the project's processes defined once (`specs`), started on loopback for the tests
and the bench (`redis`, `media`, `callapi`, `nginx`, `fullstack`) and rendered into supervisord's
config for `make up` (`supervisord`). Process statistics through psutil (`procstat`)."""
