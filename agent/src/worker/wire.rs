//! An [`Evaluation`] as a job result in the store: its JSON, with non-finite numbers
//! (an invalid candidate's `-inf` score) written as strings so they survive JSON.

use hone_tasks::Evaluation;

/// The result JSON of an evaluation.
pub fn encode(evaluation: &Evaluation) -> Result<serde_json::Value, String> {
    let mut value =
        serde_json::to_value(evaluation).map_err(|e| format!("cannot encode a result: {e}"))?;
    for (field, number) in [("score", evaluation.score), ("wall_ms", evaluation.wall_ms)] {
        if !number.is_finite() {
            value[field] = serde_json::Value::String(number.to_string());
        }
    }
    Ok(value)
}

/// The evaluation a worker stored.
pub fn decode(value: &serde_json::Value) -> Result<Evaluation, String> {
    let mut value = value.clone();
    let mut text_number = |field: &str| -> Result<Option<f64>, String> {
        let Some(text) = value
            .get(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
        else {
            return Ok(None);
        };
        let number: f64 = text
            .parse()
            .map_err(|_| format!("a job result has `{field}` = `{text}`, which is not a number"))?;
        value[field] = serde_json::json!(0.0);
        Ok(Some(number))
    };
    let score = text_number("score")?;
    let wall_ms = text_number("wall_ms")?;
    let mut evaluation: Evaluation = serde_json::from_value(value)
        .map_err(|e| format!("a job result is not an evaluation: {e}"))?;
    if let Some(score) = score {
        evaluation.score = score;
    }
    if let Some(wall_ms) = wall_ms {
        evaluation.wall_ms = wall_ms;
    }
    Ok(evaluation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_tasks::EvalStatus;

    #[test]
    fn non_finite_scores_survive() {
        let mut evaluation = Evaluation::failed(EvalStatus::CompileError, "no");
        evaluation.score = f64::NEG_INFINITY;
        let back = decode(&encode(&evaluation).unwrap()).unwrap();
        assert_eq!(back.score, f64::NEG_INFINITY);
        assert_eq!(back.status, EvalStatus::CompileError);
        let mut good = evaluation.clone();
        good.score = 0.1 + 0.2;
        good.valid = true;
        assert_eq!(decode(&encode(&good).unwrap()).unwrap(), good);
        let error = decode(&serde_json::json!({"score": "lots"})).unwrap_err();
        assert!(error.contains("`score` = `lots`"), "{error}");
    }
}
