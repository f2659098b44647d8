"""Rules, auto-assignment and the engine that applies both at intake and on every update."""
