"""AWS's endpoint connection events, by name. Pure and tiny (no pydantic), so that a command line
can offer them as choices without loading the topology's schema."""

CONNECTION_EVENTS = ("Connect", "Accept", "Reject", "Delete")  # AWS endpoint connection notifications
