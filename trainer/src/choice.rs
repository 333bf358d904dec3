//! Settings that take one of a few named values (a size preset, a norm, a covariance model):
//! their names and one-line descriptions, so that a front end (the `gmvae` binary's options,
//! a config file, a notebook) can offer and parse them without the library depending on it.

/// A setting with a fixed list of named values.
pub trait Choice: Copy + Send + Sync + 'static {
    /// Every value, in the order a front end should list them.
    const ALL: &'static [Self];

    /// The name users type (lowercase, hyphenated).
    fn name(self) -> &'static str;

    /// A one-line description for help texts.
    fn about(self) -> &'static str;

    /// Other accepted spellings of this value's name.
    fn aliases(self) -> &'static [&'static str] {
        &[]
    }

    /// The value called `name` (or one of its aliases), if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name || c.aliases().contains(&name))
    }
}

/// Implements [`Choice`] and `Display` (the name) for a field-less enum: each variant with its
/// name, description and optional aliases.
macro_rules! choice {
    ($ty:ty { $($variant:ident => $name:literal $(| $alias:literal)*, $about:literal;)+ }) => {
        impl $crate::choice::Choice for $ty {
            const ALL: &'static [Self] = &[$(<$ty>::$variant),+];
            fn name(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),+ }
            }
            fn about(self) -> &'static str {
                match self { $(<$ty>::$variant => $about),+ }
            }
            fn aliases(self) -> &'static [&'static str] {
                match self { $(<$ty>::$variant => &[$($alias),*]),+ }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::choice::Choice::name(*self))
            }
        }
    };
}
pub(crate) use choice;

#[cfg(test)]
mod tests {
    use super::Choice;
    use crate::attack::project::Norm;
    use crate::calibrate::CovarianceKind;
    use crate::data::DatasetName;
    use crate::model::Preset;
    use crate::train::LrSchedule;

    fn names_round_trip<T: Choice + PartialEq + std::fmt::Debug + std::fmt::Display>() {
        for &value in T::ALL {
            assert_eq!(T::from_name(value.name()), Some(value));
            assert_eq!(value.to_string(), value.name());
            for alias in value.aliases() {
                assert_eq!(T::from_name(alias), Some(value));
            }
            assert!(!value.about().is_empty());
        }
        assert_eq!(T::from_name("no-such-value"), None);
    }

    #[test]
    fn every_choice_parses_its_own_names_and_nothing_else() {
        names_round_trip::<Preset>();
        names_round_trip::<LrSchedule>();
        names_round_trip::<DatasetName>();
        names_round_trip::<Norm>();
        names_round_trip::<CovarianceKind>();
    }

    #[test]
    fn names_are_the_ones_the_command_line_has_always_accepted() {
        assert_eq!(Preset::from_name("paper"), Some(Preset::Paper));
        assert_eq!(
            CovarianceKind::from_name("per-class"),
            Some(CovarianceKind::PerClass)
        );
        assert_eq!(
            DatasetName::from_name("mnist-10k"),
            Some(DatasetName::Mnist10k)
        );
        assert_eq!(
            DatasetName::from_name("fashion-mnist"),
            Some(DatasetName::FashionMnist)
        );
        assert_eq!(Norm::from_name("linf"), Some(Norm::Linf));
        assert_eq!(LrSchedule::from_name("cosine"), Some(LrSchedule::Cosine));
    }
}
