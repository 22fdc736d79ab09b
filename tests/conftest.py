"""Settings of the whole test session."""

import signal
import threading

import pytest


def pytest_configure(config):
    # A shell starts a command it runs in the background (`cmd &`, nohup, CI runners) with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: the tests that press Ctrl-C
    # (os.kill(SIGINT) on this process, or on a child, which inherits the disposition) would wait
    # forever. Ctrl-C behaves here as in a terminal, whatever started pytest.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="module")
def server():
    """A playground server on a free loopback port, serving in a thread (test_playground*.py)."""
    from fnn.playground.server import PlaygroundServer

    server = PlaygroundServer("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
