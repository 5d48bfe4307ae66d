"""`dml-parity versions`: the specs under several doubleml and DoubleML releases, each in a cached
environment of its own; which release moved which estimate, and which known change explains it."""
