//! Table-driven reading for the schema's enums of unit variants and its flat structs: what
//! serde's derive does, call for call (the same `Deserializer`, `MapAccess` and `SeqAccess`
//! calls in the same order, the same error constructors with the same texts), so the same
//! documents are accepted and refused with the same errors and paths.
//!
//! Why: the derive instantiates its whole reading once per type, serde_json's and the path
//! tracker's layers included, some 2.5 to 6 KB of the module each. Read through a table, every
//! such type shares one instantiation, and only each field *type* has its own.
//! tests/schema_read.rs holds derived twins of every type read here and compares them.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{LaneFallbackConfig, SameSite, ScheduleStepConfig, WeightsConfig};

/// A type of a flat struct's field, as the struct declares it.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Text,
    MaybeText,
    MaybeFlag,
    MaybeTexts,
    MaybeCount,
    MaybeLaneFallback,
    MaybeSameSite,
    /// `f64` read by [`super::percent`] (`deserialize_with`).
    Percent,
    /// `f64` read by [`super::rate`].
    Rate,
    /// `u64` read by [`super::seconds`].
    Seconds,
    Steps,
    Weights,
}

/// A field's value as read, one variant per [`Kind`] (`Number` for both `f64` kinds).
enum Value {
    Text(String),
    MaybeText(Option<String>),
    MaybeFlag(Option<bool>),
    MaybeTexts(Option<Vec<String>>),
    MaybeCount(Option<u64>),
    MaybeLaneFallback(Option<LaneFallbackConfig>),
    MaybeSameSite(Option<SameSite>),
    Number(f64),
    Seconds(u64),
    Steps(Vec<ScheduleStepConfig>),
    Weights(WeightsConfig),
}

/// A struct as its derive would describe it: `name` and `expecting` as in `#[serde(expecting)]`,
/// its fields' names as written in the document (renames applied) and their kinds, in
/// declaration order. Unknown fields are refused (`deny_unknown_fields`).
pub(super) struct Shape {
    pub name: &'static str,
    pub expecting: &'static str,
    pub names: &'static [&'static str],
    pub kinds: &'static [Kind],
}

/// A struct's field values in declaration order, each taken once by the getter of its kind.
/// The getters fall back to an empty value only if a shape and its struct disagree, which the
/// derived twins in the tests rule out.
pub(super) struct Values(std::vec::IntoIter<Value>);

impl Values {
    pub fn text(&mut self) -> String {
        match self.0.next() {
            Some(Value::Text(value)) => value,
            _ => String::new(),
        }
    }

    pub fn maybe_text(&mut self) -> Option<String> {
        match self.0.next() {
            Some(Value::MaybeText(value)) => value,
            _ => None,
        }
    }

    pub fn maybe_flag(&mut self) -> Option<bool> {
        match self.0.next() {
            Some(Value::MaybeFlag(value)) => value,
            _ => None,
        }
    }

    pub fn maybe_texts(&mut self) -> Option<Vec<String>> {
        match self.0.next() {
            Some(Value::MaybeTexts(value)) => value,
            _ => None,
        }
    }

    pub fn maybe_count(&mut self) -> Option<u64> {
        match self.0.next() {
            Some(Value::MaybeCount(value)) => value,
            _ => None,
        }
    }

    pub fn maybe_lane_fallback(&mut self) -> Option<LaneFallbackConfig> {
        match self.0.next() {
            Some(Value::MaybeLaneFallback(value)) => value,
            _ => None,
        }
    }

    pub fn maybe_same_site(&mut self) -> Option<SameSite> {
        match self.0.next() {
            Some(Value::MaybeSameSite(value)) => value,
            _ => None,
        }
    }

    pub fn number(&mut self) -> f64 {
        match self.0.next() {
            Some(Value::Number(value)) => value,
            _ => 0.0,
        }
    }

    pub fn seconds(&mut self) -> u64 {
        match self.0.next() {
            Some(Value::Seconds(value)) => value,
            _ => 0,
        }
    }

    pub fn steps(&mut self) -> Vec<ScheduleStepConfig> {
        match self.0.next() {
            Some(Value::Steps(value)) => value,
            _ => Vec::new(),
        }
    }

    pub fn weights(&mut self) -> WeightsConfig {
        match self.0.next() {
            Some(Value::Weights(value)) => value,
            _ => WeightsConfig(Vec::new()),
        }
    }
}

/// The `deserialize_with` functions as seeds, so that a field reads through the same
/// `next_value_seed` / `next_element_seed` call the derive makes.
struct With(Kind);

impl<'de> DeserializeSeed<'de> for With {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.0 {
            Kind::Rate => super::rate(deserializer).map(Value::Number),
            Kind::Seconds => super::seconds(deserializer).map(Value::Seconds),
            _ => super::percent(deserializer).map(Value::Number),
        }
    }
}

/// Reads a struct of `shape` as `#[derive(Deserialize)]` with `deny_unknown_fields` would.
#[inline(never)]
pub(super) fn read_struct<'de, D: Deserializer<'de>>(
    deserializer: D,
    shape: &'static Shape,
) -> Result<Values, D::Error> {
    deserializer.deserialize_struct(shape.name, shape.names, StructVisitor(shape))
}

struct StructVisitor(&'static Shape);

impl<'de> Visitor<'de> for StructVisitor {
    type Value = Values;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.expecting)
    }

    /// The fields in declaration order; the derive reads a struct from an array too.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
        let mut values = Vec::with_capacity(self.0.kinds.len());
        for (index, kind) in self.0.kinds.iter().enumerate() {
            let value = match kind {
                Kind::Text => seq.next_element()?.map(Value::Text),
                Kind::MaybeText => seq.next_element()?.map(Value::MaybeText),
                Kind::MaybeFlag => seq.next_element()?.map(Value::MaybeFlag),
                Kind::MaybeTexts => seq.next_element()?.map(Value::MaybeTexts),
                Kind::MaybeCount => seq.next_element()?.map(Value::MaybeCount),
                Kind::MaybeLaneFallback => seq.next_element()?.map(Value::MaybeLaneFallback),
                Kind::MaybeSameSite => seq.next_element()?.map(Value::MaybeSameSite),
                Kind::Percent | Kind::Rate | Kind::Seconds => seq.next_element_seed(With(*kind))?,
                Kind::Steps => seq.next_element()?.map(Value::Steps),
                Kind::Weights => seq.next_element()?.map(Value::Weights),
            };
            match value {
                Some(value) => values.push(value),
                None => return Err(de::Error::invalid_length(index, &self.0.expecting)),
            }
        }
        Ok(Values(values.into_iter()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
        let shape = self.0;
        let mut slots: Vec<Option<Value>> = shape.kinds.iter().map(|_| None).collect();
        while let Some(index) = map.next_key_seed(Name::field(shape.names))? {
            let (Some(slot), Some(kind)) = (slots.get_mut(index), shape.kinds.get(index)) else {
                continue;
            };
            if slot.is_some() {
                let name = shape.names.get(index).copied().unwrap_or_default();
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(match kind {
                Kind::Text => Value::Text(map.next_value()?),
                Kind::MaybeText => Value::MaybeText(map.next_value()?),
                Kind::MaybeFlag => Value::MaybeFlag(map.next_value()?),
                Kind::MaybeTexts => Value::MaybeTexts(map.next_value()?),
                Kind::MaybeCount => Value::MaybeCount(map.next_value()?),
                Kind::MaybeLaneFallback => Value::MaybeLaneFallback(map.next_value()?),
                Kind::MaybeSameSite => Value::MaybeSameSite(map.next_value()?),
                Kind::Percent | Kind::Rate | Kind::Seconds => map.next_value_seed(With(*kind))?,
                Kind::Steps => Value::Steps(map.next_value()?),
                Kind::Weights => Value::Weights(map.next_value()?),
            });
        }
        let mut values = Vec::with_capacity(slots.len());
        for ((slot, kind), name) in slots.into_iter().zip(shape.kinds).zip(shape.names) {
            values.push(match (slot, kind) {
                (Some(value), _) => value,
                // An absent `Option` is `None`, as the derive's `missing_field` makes it.
                (None, Kind::MaybeText) => Value::MaybeText(None),
                (None, Kind::MaybeFlag) => Value::MaybeFlag(None),
                (None, Kind::MaybeTexts) => Value::MaybeTexts(None),
                (None, Kind::MaybeCount) => Value::MaybeCount(None),
                (None, Kind::MaybeLaneFallback) => Value::MaybeLaneFallback(None),
                (None, Kind::MaybeSameSite) => Value::MaybeSameSite(None),
                (
                    None,
                    Kind::Text
                    | Kind::Percent
                    | Kind::Rate
                    | Kind::Seconds
                    | Kind::Steps
                    | Kind::Weights,
                ) => return Err(de::Error::missing_field(name)),
            });
        }
        Ok(Values(values.into_iter()))
    }
}

/// An enum of unit variants as its derive would describe it.
pub(super) struct UnitEnum {
    pub name: &'static str,
    /// "enum Name", the derive's words.
    pub expecting: &'static str,
    /// As written in the document, in declaration order.
    pub variants: &'static [&'static str],
}

/// The index in `spec.variants` of the variant the document names.
#[inline(never)]
pub(super) fn unit_variant<'de, D: Deserializer<'de>>(
    deserializer: D,
    spec: &'static UnitEnum,
) -> Result<usize, D::Error> {
    deserializer.deserialize_enum(spec.name, spec.variants, UnitEnumVisitor(spec))
}

struct UnitEnumVisitor(&'static UnitEnum);

impl<'de> Visitor<'de> for UnitEnumVisitor {
    type Value = usize;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.expecting)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<usize, A::Error> {
        let (index, variant) = data.variant_seed(Name::variant(self.0.variants))?;
        de::VariantAccess::unit_variant(variant)?;
        Ok(index)
    }
}

/// A field's or a variant's name (or index), read as the derive's `__Field` reads it.
struct Name {
    names: &'static [&'static str],
    variant: bool,
}

impl Name {
    fn field(names: &'static [&'static str]) -> Self {
        Name {
            names,
            variant: false,
        }
    }

    fn variant(names: &'static [&'static str]) -> Self {
        Name {
            names,
            variant: true,
        }
    }

    fn unknown<E: de::Error>(&self, value: &str) -> E {
        if self.variant {
            E::unknown_variant(value, self.names)
        } else {
            E::unknown_field(value, self.names)
        }
    }
}

impl<'de> DeserializeSeed<'de> for Name {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = usize;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.variant {
            true => "variant identifier",
            false => "field identifier",
        })
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<usize, E> {
        match usize::try_from(value) {
            Ok(index) if index < self.names.len() => Ok(index),
            _ => {
                let what = match self.variant {
                    true => "variant",
                    false => "field",
                };
                let expected = format!("{what} index 0 <= i < {}", self.names.len());
                Err(E::invalid_value(
                    de::Unexpected::Unsigned(value),
                    &expected.as_str(),
                ))
            }
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<usize, E> {
        match self.names.iter().position(|name| *name == value) {
            Some(index) => Ok(index),
            None => Err(self.unknown(value)),
        }
    }

    fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<usize, E> {
        match self.names.iter().position(|name| name.as_bytes() == value) {
            Some(index) => Ok(index),
            None => Err(self.unknown(&String::from_utf8_lossy(value))),
        }
    }
}
