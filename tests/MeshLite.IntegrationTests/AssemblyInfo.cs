// Sidecars share the machine's two cores and, in process, the one ActivitySource: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
