"""The solver stages: one subpackage per problem (its problem types, heuristics, bounds, exact
methods, solution format, generator and stage), the stage interface (`interface`), the registry of
stages in pipeline order (`registry`), what the pipeline knows while it runs (`context`, with the
tiles' `mapping`), the shared result type (`stats`), time budget (`budget`), CP-SAT runner
(`cpsat`), solution verdict (`solution_verdict`), the end-to-end bound (`e2e_bound`), and the
harness (`harness`)."""
