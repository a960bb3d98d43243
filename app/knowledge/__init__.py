"""The knowledge base in the desk: the article viewer (more to come: suggestions, the
editor)."""
