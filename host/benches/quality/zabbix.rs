//! Zabbix's trend functions `timeleft(/host/key,W,threshold,fit)` and
//! `forecast(/host/key,W,time,fit)`, re-implemented from Zabbix's own code
//! (`src/libs/zbxalgo/prediction.c`: `zbx_regression`, `zbx_timeleft`, `zbx_forecast`,
//! `zbx_polynomial_timeleft`) for the fits `linear` (x = a + b·t), `exponential` (ln x = a + b·t,
//! by least squares on the logarithm) and `polynomial2` (x = a + b·t + c·t²), all by ordinary
//! least squares over the values of the last W seconds, evaluated on every new value as Zabbix
//! evaluates a trigger.
//!
//! Where this may deviate from Zabbix:
//! - Zabbix counts t from the window's oldest value; this counts it from the newest (the fitted
//!   curve is the same in exact arithmetic; rounding differs in the last digits).
//! - Zabbix solves the normal equations by Gauss–Jordan with partial pivoting; this solves the
//!   same 2×2 / 3×3 systems by Cramer's rule (same solution for these well-conditioned systems).
//! - `zbx_polynomial_timeleft` finds roots by Durand–Kerner; for degree 2 Zabbix uses the
//!   quadratic formula, as here.
//! - A window of one value: Zabbix returns 0 or DBL_MAX (timeleft) / the value (forecast); here
//!   too. A negative or past result becomes "never" (DBL_MAX), as Zabbix does; Zabbix's
//!   exponential fit refuses non-positive values (none occur in these traces).
//! - The history Zabbix would read is the values stored with their arrival times; here the
//!   sensor readings at their sample times (no storage delay).

/// The fits compared.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fit {
    /// `linear`.
    Linear,
    /// `exponential`.
    Exponential,
    /// `polynomial2`.
    Polynomial2,
}

impl Fit {
    pub const ALL: [Fit; 3] = [Self::Linear, Self::Exponential, Self::Polynomial2];
    pub const fn name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Exponential => "exponential",
            Self::Polynomial2 => "polynomial2",
        }
    }
}

/// Least-squares sums over a window, t in s relative to the newest value.
#[derive(Clone, Copy, Default)]
pub struct Sums {
    n: f64,
    t: f64,
    t2: f64,
    t3: f64,
    t4: f64,
    x: f64,
    tx: f64,
    t2x: f64,
    lx: f64,
    tlx: f64,
}

impl Sums {
    pub fn add(&mut self, t: f64, x: f64) {
        let t2 = t * t;
        let lx = x.max(1e-9).ln();
        self.n += 1.0;
        self.t += t;
        self.t2 += t2;
        self.t3 += t2 * t;
        self.t4 += t2 * t2;
        self.x += x;
        self.tx += t * x;
        self.t2x += t2 * x;
        self.lx += lx;
        self.tlx += t * lx;
    }

    /// Coefficients of the fit: (a, b, c) with c = 0 unless polynomial2; for exponential, of ln x.
    fn coefficients(&self, fit: Fit) -> Option<(f64, f64, f64)> {
        match fit {
            Fit::Linear | Fit::Exponential => {
                let (sy, sty) = if fit == Fit::Linear {
                    (self.x, self.tx)
                } else {
                    (self.lx, self.tlx)
                };
                let det = self.n * self.t2 - self.t * self.t;
                if det == 0.0 {
                    return None;
                }
                Some((
                    (self.t2 * sy - self.t * sty) / det,
                    (self.n * sty - self.t * sy) / det,
                    0.0,
                ))
            }
            Fit::Polynomial2 => {
                if self.n < 3.0 {
                    return None;
                }
                let m = [
                    [self.n, self.t, self.t2],
                    [self.t, self.t2, self.t3],
                    [self.t2, self.t3, self.t4],
                ];
                let r = [self.x, self.tx, self.t2x];
                let det3 = |m: &[[f64; 3]; 3]| {
                    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
                };
                let d = det3(&m);
                if d == 0.0 {
                    return None;
                }
                let col = |k: usize| {
                    let mut mk = m;
                    for i in 0..3 {
                        mk[i][k] = r[i];
                    }
                    det3(&mk) / d
                };
                Some((col(0), col(1), col(2)))
            }
        }
    }

    /// `timeleft`: seconds from now (t = 0) until the fit reaches `threshold`; `None` for
    /// Zabbix's DBL_MAX (never, or only in the past).
    pub fn timeleft(&self, fit: Fit, threshold: f64, last: f64) -> Option<f64> {
        if self.n < 2.0 {
            return (last == threshold).then_some(0.0);
        }
        let (a, b, c) = self.coefficients(fit)?;
        let current = match fit {
            Fit::Exponential => a.exp(),
            _ => a,
        };
        if current == threshold {
            return Some(0.0);
        }
        let r = match fit {
            Fit::Linear => (threshold - a) / b,
            Fit::Exponential => (threshold.ln() - a) / b,
            Fit::Polynomial2 => {
                // Smallest real root of a − threshold + b·t + c·t² after now.
                let a0 = a - threshold;
                if c == 0.0 {
                    -a0 / b
                } else {
                    let disc = b * b - 4.0 * c * a0;
                    if disc < 0.0 {
                        return None;
                    }
                    let q = if b > 0.0 {
                        -b - disc.sqrt()
                    } else {
                        -b + disc.sqrt()
                    };
                    let (r1, r2) = (0.5 * q / c, 2.0 * a0 / q);
                    [r1, r2]
                        .into_iter()
                        .filter(|r| *r > 0.0)
                        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))))?
                }
            }
        };
        (r.is_finite() && r >= 0.0).then_some(r)
    }

    /// `forecast`: the fit's value `time` seconds from now.
    pub fn forecast(&self, fit: Fit, time: f64, last: f64) -> Option<f64> {
        if self.n < 2.0 {
            return Some(last);
        }
        let (a, b, c) = self.coefficients(fit)?;
        let v = match fit {
            Fit::Linear => a + b * time,
            Fit::Exponential => (a + b * time).exp(),
            Fit::Polynomial2 => a + b * time + c * time * time,
        };
        v.is_finite().then_some(v)
    }
}
