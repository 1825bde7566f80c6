"""HTTP routers; thin: each handler parses, calls one service function, and shapes the response."""
