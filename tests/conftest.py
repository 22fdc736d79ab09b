"""Settings of the whole test session."""

import signal


def pytest_configure(config):
    # A shell starts a command it runs in the background (`cmd &`, nohup, CI runners) with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: the tests that press Ctrl-C
    # (os.kill(SIGINT) on this process, or on a child, which inherits the disposition) would wait
    # forever. Ctrl-C behaves here as in a terminal, whatever started pytest.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
