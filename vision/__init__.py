"""Camera side: source → detector → tracker → rules → confirmation → evidence → outbox."""
