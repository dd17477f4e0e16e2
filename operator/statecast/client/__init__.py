"""The application library that talks to the node-local agent."""
