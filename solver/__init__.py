"""The solver stages: one subpackage per problem (its instance, heuristics, bounds, exact methods and
stage), the stage interface (`interface`), the registry of stages in pipeline order (`registry`), the
shared result type (`stats`), time budget (`budget`) and CP-SAT runner (`cpsat`), and the harness."""
