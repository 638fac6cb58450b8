"""The real nginx TLS gateway on free loopback ports: voicebot_stack's, re-exported for the tests."""

from voicebot_stack.nginx import CERTS_SCRIPT, Certs, NginxGateway, make_certs, nginx_test

__all__ = ["CERTS_SCRIPT", "Certs", "NginxGateway", "make_certs", "nginx_test"]
