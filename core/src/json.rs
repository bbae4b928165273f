//! Lenient JSON decoding helpers: DTM's Go server accepts `null` wherever a value may be
//! absent, so every optional field decodes `null` as its default.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Decodes `null` (or an absent key, with `#[serde(default)]`) as `T::default()`.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Decodes a string map whose values may be `null` (decoded as `""`).
pub fn nullable_string_map<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let raw = Option::<BTreeMap<String, Option<String>>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// Decodes an array of string maps where the array, its elements and their values may be
/// `null`.
pub fn nullable_steps<'de, D>(d: D) -> Result<Vec<BTreeMap<String, String>>, D::Error>
where
    D: Deserializer<'de>,
{
    type RawStep = Option<BTreeMap<String, Option<String>>>;
    let raw = Option::<Vec<RawStep>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .map(|step| {
            step.unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect()
        })
        .collect())
}

/// Decodes an array of strings where the array and its elements may be `null`.
pub fn nullable_strings<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let raw = Option::<Vec<Option<String>>>::deserialize(d)?.unwrap_or_default();
    Ok(raw.into_iter().map(Option::unwrap_or_default).collect())
}
