"""Pure logic without I/O: forecasting, placement, costs, CRDTs and clocks."""
