"""Prior art: fingerprints of registered works, similarity indexes, matches (issue #5)."""
