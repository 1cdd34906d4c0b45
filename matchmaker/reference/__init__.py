"""Reference data: the 2019 green industry catalog, GB/T 2260 regions, GB/T 4754 industries."""
