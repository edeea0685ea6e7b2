"""The solver harness: any stage's instance and solution as data (`instances`, `solutions`,
`solution_checks`), standard formats (`exports`) and random benchmark instances (`generators`),
so that a researcher re-solves an instance with any method and checks the answer."""
