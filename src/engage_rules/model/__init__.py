"""The data the engine works on: events, member and community state, decisions."""
