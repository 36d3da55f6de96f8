"""HTTP routes and WebSocket handlers: parse, authorise, call an action, reply."""
