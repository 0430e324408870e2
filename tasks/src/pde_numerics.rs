//! Numerics for the pde kind ([`crate::kinds::pde`]), apart from its evaluator: native
//! reference solvers and scorers for PDE tasks: seeded initial data, pseudo-spectral
//! solvers for the periodic 1-D problems, a finite-volume sparse-Cholesky solver for Darcy
//! flow, and CodePDE's nRMSE and convergence-rate measures.

pub mod darcy;
pub mod initial;
pub mod score;
pub mod spectral;

pub use darcy::{
    DarcyError, DarcyProblem, cholesky_solve_lower, darcy_matrix, darcy_reference,
    restrict_to_centres, solve_darcy,
};
pub use initial::{DarcyCoefficient, FourierInitial, cell_centres, codepde_convergence_initial};
pub use score::{
    convergence_rate, frame_errors, interpolate_linear, nrmse, self_convergence_error,
};
pub use spectral::{PeriodicEquation, PeriodicSolver, periodic_reference};
