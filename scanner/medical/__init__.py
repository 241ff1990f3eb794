"""Medical devices (POLICY.md §4): identification, NMPA/FDA lookups, certificate checks."""
