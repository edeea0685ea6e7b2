"""The accuracy budget: rows activated per ADC conversion per layer, a multiple-choice knapsack
(`knapsack`), its solution files (`solution_format`) and its stage (`stage`, `compile --min-sqnr-db`)."""
