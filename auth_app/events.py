"""Event types of this app (registered with the event store on import)."""
