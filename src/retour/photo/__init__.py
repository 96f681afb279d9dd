"""Customers' photos of returned items: checked, re-encoded without metadata, stored."""
