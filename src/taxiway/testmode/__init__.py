"""Test mode: simulated outcomes chosen per request with the `X-Taxiway-Simulate` header.

Active only with `TAXIWAY_TEST_MODE=1`; in production the header is ignored entirely.
"""

from taxiway.testmode.simulate import HEADER, Simulation, SimulationError, parse, parse_duration

__all__ = ["HEADER", "Simulation", "SimulationError", "parse", "parse_duration"]
