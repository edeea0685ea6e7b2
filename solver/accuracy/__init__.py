"""The accuracy budget: rows activated per ADC conversion per layer, a multiple-choice knapsack
(`knapsack`), and its stage (`stage`, `compile --min-sqnr-db`)."""
