"""The parts of bench/soak: the load and its ledger (`load`, `users`), the faults (`faults`, with
`delayline` run as a process of its own), and the samples, accounting and report (`account`)."""
