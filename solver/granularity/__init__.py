"""Task granularity: how many MVM chunks each crossbar op's output is cut into (`cimopt.ir.chunks`)."""
