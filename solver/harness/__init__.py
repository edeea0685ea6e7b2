"""The solver harness, generic over `cimopt.solver.registry.STAGES`: any stage's instance and
solution as data (`instances`, `solutions`, through each stage's `solution_format`), standard
formats (`exports`) and random benchmark instances (`generators`, through each stage's
`generator`), so that a researcher re-solves an instance with any method and checks the answer."""
