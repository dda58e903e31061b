"""Test support: real models shipped in packages, tiny models built on the fly, real servers."""
