"""Solver stages, one module per problem, each with heuristics and exact formulations."""
