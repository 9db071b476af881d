"""molostart: a load test written from a template or a HAR recording."""
