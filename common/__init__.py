"""Shared helpers every app uses (HTTP, rate limit, logging, text and money): they import no app."""
