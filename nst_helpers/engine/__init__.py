"""How a run goes fast and big: precision, memory layout, the fast Gram, tiles, the memory
estimate."""
