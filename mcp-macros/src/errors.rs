//! Collecting errors, so that one build reports every problem of an annotated function at once.

use proc_macro2::Span;

/// The errors found so far, each with its own span.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records the error of `result`, if any, and returns its value.
    pub fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// `Err` with every recorded error, else `value`.
    pub fn finish<T>(self, value: Option<T>) -> syn::Result<T> {
        match (self.0, value) {
            (Some(error), _) => Err(error),
            (None, Some(value)) => Ok(value),
            // Every analysis that returns nothing records why; reaching this is a bug in the macro.
            (None, None) => Err(syn::Error::new(
                Span::call_site(),
                "internal error in cm-mcp's macros: an analysis failed without an error; please report it",
            )),
        }
    }
}
