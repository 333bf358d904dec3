//! The calibration block: class count, covariance model, encoder variance, thresholds and
//! the settings that produced them.

use crate::bytes::{f32_at, u32_at, u64_at};
use crate::error::{CalibrationField, FormatError, Threshold};
use crate::layout::{calibration as field, CALIBRATION_LEN};

/// How the per-class latent covariance was modelled (the file stores its inverse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CovarianceKind {
    /// `s2 · I` for every class; the stored precisions are exactly `(1/s2) · I`.
    Isotropic = 1,
    /// A full covariance per class, estimated on training encodings.
    PerClass = 2,
}

impl CovarianceKind {
    /// The kind with numeric code `code`.
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(Self::Isotropic),
            2 => Some(Self::PerClass),
            _ => None,
        }
    }
}

/// The statistic of training reconstruction errors that gave `tau_dec`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TauDecStatistic {
    /// Code 1: the `level` quantile (0 < level ≤ 1) of the errors.
    Quantile {
        /// Quantile level.
        level: f32,
    },
    /// Code 2: mean + `k` · standard deviation (k finite, ≥ 0) of the errors.
    MeanPlusKStd {
        /// Number of standard deviations.
        k: f32,
    },
}

impl TauDecStatistic {
    /// The numeric code stored in the file.
    pub const fn code(&self) -> u32 {
        match self {
            Self::Quantile { .. } => 1,
            Self::MeanPlusKStd { .. } => 2,
        }
    }

    /// The parameter stored in the file (the level or `k`).
    pub const fn parameter(&self) -> f32 {
        match *self {
            Self::Quantile { level } => level,
            Self::MeanPlusKStd { k } => k,
        }
    }

    /// Builds the statistic from its code and parameter; `None` for an unknown code.
    pub const fn from_parts(code: u32, parameter: f32) -> Option<Self> {
        match code {
            1 => Some(Self::Quantile { level: parameter }),
            2 => Some(Self::MeanPlusKStd { k: parameter }),
            _ => None,
        }
    }

    fn parameter_is_valid(&self) -> bool {
        match *self {
            Self::Quantile { level } => level > 0.0 && level <= 1.0,
            Self::MeanPlusKStd { k } => k.is_finite() && k >= 0.0,
        }
    }
}

/// The latent model and rejection thresholds stored with the weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// Fixed encoder variance `s2` (finite, > 0), e.g. 1/3000.
    pub s2: f32,
    /// How the precision matrices were obtained.
    pub covariance: CovarianceKind,
    /// Critical value for the squared Mahalanobis distance (finite, > 0).
    pub tau_enc: f32,
    /// Critical value for the reconstruction sum of squared errors (finite, > 0).
    pub tau_dec: f32,
    /// Confidence level that gave `tau_enc` (strictly between 0 and 1), e.g. 0.9973.
    pub confidence: f32,
    /// Statistic that gave `tau_dec`.
    pub tau_dec_statistic: TauDecStatistic,
    /// Number of training samples the thresholds were calibrated on (≥ 1).
    pub samples: u64,
}

impl Calibration {
    /// Checks the values in the order the reader does: `s2`, `tau_enc`, `tau_dec`,
    /// confidence, statistic parameter, samples.
    pub fn validate(&self) -> Result<(), FormatError> {
        let positive = |v: f32| v.is_finite() && v > 0.0;
        if !positive(self.s2) {
            return Err(FormatError::BadCalibration {
                field: CalibrationField::S2,
            });
        }
        if !positive(self.tau_enc) {
            return Err(FormatError::BadThreshold {
                which: Threshold::Enc,
            });
        }
        if !positive(self.tau_dec) {
            return Err(FormatError::BadThreshold {
                which: Threshold::Dec,
            });
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(FormatError::BadCalibration {
                field: CalibrationField::Confidence,
            });
        }
        if !self.tau_dec_statistic.parameter_is_valid() {
            return Err(FormatError::BadCalibration {
                field: CalibrationField::StatisticParameter,
            });
        }
        if self.samples == 0 {
            return Err(FormatError::BadCalibration {
                field: CalibrationField::Samples,
            });
        }
        Ok(())
    }

    /// The class count stored at the start of a calibration block.
    pub(crate) fn classes(block: &[u8]) -> u32 {
        u32_at(block, field::CLASSES).unwrap_or(0)
    }

    /// Decodes and validates a calibration block (at least [`CALIBRATION_LEN`] bytes).
    pub(crate) fn parse(block: &[u8]) -> Result<Self, FormatError> {
        let bad = FormatError::BadLayout {
            section: crate::error::Section::Calibration,
        };
        let u32f = |o| u32_at(block, o).ok_or(bad);
        let f32f = |o| f32_at(block, o).ok_or(bad);
        let code = u32f(field::COVARIANCE)?;
        let covariance = CovarianceKind::from_code(code)
            .ok_or(FormatError::UnknownCovarianceKind { found: code })?;
        let code = u32f(field::STATISTIC)?;
        let tau_dec_statistic =
            TauDecStatistic::from_parts(code, f32f(field::STATISTIC_PARAMETER)?)
                .ok_or(FormatError::UnknownStatistic { found: code })?;
        let calibration = Calibration {
            s2: f32f(field::S2)?,
            covariance,
            tau_enc: f32f(field::TAU_ENC)?,
            tau_dec: f32f(field::TAU_DEC)?,
            confidence: f32f(field::CONFIDENCE)?,
            tau_dec_statistic,
            samples: u64_at(block, field::SAMPLES).ok_or(bad)?,
        };
        calibration.validate()?;
        Ok(calibration)
    }

    /// The block's 40 bytes as written in a 1.0 file.
    pub fn to_bytes(&self, classes: u32) -> [u8; CALIBRATION_LEN] {
        use byteorder::{ByteOrder, LittleEndian as Le};
        let mut b = [0u8; CALIBRATION_LEN];
        Le::write_u32(&mut b[field::CLASSES..], classes);
        Le::write_u32(&mut b[field::COVARIANCE..], self.covariance as u32);
        Le::write_f32(&mut b[field::S2..], self.s2);
        Le::write_f32(&mut b[field::TAU_ENC..], self.tau_enc);
        Le::write_f32(&mut b[field::TAU_DEC..], self.tau_dec);
        Le::write_f32(&mut b[field::CONFIDENCE..], self.confidence);
        Le::write_u32(&mut b[field::STATISTIC..], self.tau_dec_statistic.code());
        Le::write_f32(
            &mut b[field::STATISTIC_PARAMETER..],
            self.tau_dec_statistic.parameter(),
        );
        Le::write_u64(&mut b[field::SAMPLES..], self.samples);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Calibration {
        Calibration {
            s2: 1.0 / 3000.0,
            covariance: CovarianceKind::Isotropic,
            tau_enc: 28.0,
            tau_dec: 12.5,
            confidence: 0.9973,
            tau_dec_statistic: TauDecStatistic::Quantile { level: 0.99 },
            samples: 60000,
        }
    }

    #[test]
    fn round_trip() {
        let c = sample();
        let b = c.to_bytes(10);
        assert_eq!(Calibration::classes(&b), 10);
        assert_eq!(Calibration::parse(&b), Ok(c));
    }

    #[test]
    fn rejects_bad_values() {
        let mut c = sample();
        c.tau_enc = f32::NAN;
        assert_eq!(
            Calibration::parse(&c.to_bytes(2)),
            Err(FormatError::BadThreshold {
                which: Threshold::Enc
            })
        );
        let mut c = sample();
        c.tau_dec = 0.0;
        assert_eq!(
            Calibration::parse(&c.to_bytes(2)),
            Err(FormatError::BadThreshold {
                which: Threshold::Dec
            })
        );
        let mut c = sample();
        c.confidence = 1.0;
        assert!(matches!(
            Calibration::parse(&c.to_bytes(2)),
            Err(FormatError::BadCalibration {
                field: CalibrationField::Confidence
            })
        ));
        let mut c = sample();
        c.tau_dec_statistic = TauDecStatistic::MeanPlusKStd { k: f32::INFINITY };
        assert!(matches!(
            Calibration::parse(&c.to_bytes(2)),
            Err(FormatError::BadCalibration {
                field: CalibrationField::StatisticParameter
            })
        ));
        let mut b = sample().to_bytes(2);
        b[field::COVARIANCE] = 9;
        assert_eq!(
            Calibration::parse(&b),
            Err(FormatError::UnknownCovarianceKind { found: 9 })
        );
    }
}
