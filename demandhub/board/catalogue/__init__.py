"""What the board measures and how the pack is set: the measure catalogue, the most similar forces,
force names, populations and the pack settings, loaded from packaged TOML and CSV."""
