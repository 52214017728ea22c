"""Development-only tools: the Stripe stand-in (localstripe behind our wrapper) that `make run`,
the tests and the benchmarks start. The app never imports this package (tests/test_layering.py),
and it imports localstripe, a development dependency, which production does not install."""
