//! Request parameters from a query string or a form body (RFC 6749 §3.1: "Request and
//! response parameters MUST NOT be included more than once"; a parameter sent without a
//! value is treated as omitted).

use super::error::OAuthError;

#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes. Bytes that do not decode to UTF-8
    /// are refused: OAuth parameters are text, and a lossy decoding would change them.
    pub fn parse(input: &[u8]) -> Result<Params, OAuthError> {
        let mut pairs = Vec::new();
        for (name, value) in form_urlencoded::parse(input) {
            if name.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
                return Err(OAuthError::invalid_request(
                    "the request is not valid UTF-8 form data",
                ));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Params(pairs))
    }

    /// The parameter's value; `None` if absent or empty; an error if it is repeated.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = self
            .0
            .iter()
            .filter(|(key, value)| key == name && !value.is_empty());
        let first = found.next();
        if found.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter '{name}' is repeated"
            )));
        }
        Ok(first.map(|(_, value)| value.as_str()))
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter '{name}' is missing")))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }

    /// Every value of a parameter that may be repeated (RFC 8707's `resource`), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Refuses a request in which any parameter is repeated, except `resource`, which RFC
    /// 8707 §2 lets a request send once per resource.
    pub fn reject_duplicates(&self) -> Result<(), OAuthError> {
        for (index, (name, _)) in self.0.iter().enumerate() {
            if name == "resource" {
                continue;
            }
            if self.0[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{name}' is repeated"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_repeats_and_bad_utf8() {
        let params = Params::parse(b"a=1&b=&c=x+y%21").unwrap();
        assert_eq!(params.get("a").unwrap(), Some("1"));
        assert_eq!(params.get("b").unwrap(), None);
        assert_eq!(params.get("c").unwrap(), Some("x y!"));
        assert!(Params::parse(b"a=1&a=2").unwrap().get("a").is_err());
        assert!(Params::parse(b"a=1&a=2")
            .unwrap()
            .reject_duplicates()
            .is_err());
        assert!(Params::parse(b"a=%ff").is_err());
        assert!(Params::parse(b"a=\xff").is_err());
    }
}
