"""The Animagine prompt engine, pure Python: no torch, no Discord, no database.

``emphasis`` (A1111 weights, a leaf) ← ``tags`` (Danbooru data) ← ``assembly`` (presets,
ratings, order) ← ``request`` (the one validator: command options → GenerationRequest).
"""
