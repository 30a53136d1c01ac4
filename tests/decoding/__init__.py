"""Decoding: codecs (property tests), copybooks, conformance with Cobrix, the decode command."""
