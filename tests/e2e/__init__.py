"""End-to-end tests: the bridge as a real process against a real Synapse and the simulator."""
