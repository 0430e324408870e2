//! An [`Evaluation`] as a job result in the store: its JSON, with non-finite numbers
//! (an invalid candidate's `-inf` score) written as strings so they survive JSON. A private
//! evaluation's result is only its numbers ([`PrivateEvaluation`]), or `null` when the
//! task has no held-out cases.

use hone_store::PrivateEvaluation;
use hone_tasks::Evaluation;

use super::WorkerError;
use crate::orchestrator::held_out_numbers;

/// The result JSON of a private evaluation: its numbers only.
pub fn encode_private(private: Option<&Evaluation>) -> Result<serde_json::Value, WorkerError> {
    serde_json::to_value(private.map(held_out_numbers))
        .map_err(WorkerError::json("encode a private result"))
}

/// The numbers of a private evaluation a worker stored (`None`: no held-out cases).
pub fn decode_private(value: &serde_json::Value) -> Result<Option<PrivateEvaluation>, WorkerError> {
    serde_json::from_value(value.clone()).map_err(WorkerError::json(
        "read a private job result as a private evaluation",
    ))
}

/// The result JSON of an evaluation.
pub fn encode(evaluation: &Evaluation) -> Result<serde_json::Value, WorkerError> {
    let mut value =
        serde_json::to_value(evaluation).map_err(WorkerError::json("encode a result"))?;
    for (field, number) in [("score", evaluation.score), ("wall_ms", evaluation.wall_ms)] {
        if !number.is_finite() {
            value[field] = serde_json::Value::String(number.to_string());
        }
    }
    Ok(value)
}

/// The evaluation a worker stored.
pub fn decode(value: &serde_json::Value) -> Result<Evaluation, WorkerError> {
    let mut value = value.clone();
    let mut text_number = |field: &str| -> Result<Option<f64>, WorkerError> {
        let Some(text) = value
            .get(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
        else {
            return Ok(None);
        };
        let number: f64 = text.parse().map_err(|_| WorkerError::NotANumber {
            field: field.to_string(),
            text: text.clone(),
        })?;
        value[field] = serde_json::json!(0.0);
        Ok(Some(number))
    };
    let score = text_number("score")?;
    let wall_ms = text_number("wall_ms")?;
    let mut evaluation: Evaluation = serde_json::from_value(value)
        .map_err(WorkerError::json("read a job result as an evaluation"))?;
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
        let error = decode(&serde_json::json!({"score": "lots"}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("`score` = `lots`"), "{error}");
    }

    #[test]
    fn a_private_result_holds_numbers_only() {
        let mut private =
            Evaluation::failed(EvalStatus::Ok, "hidden input 1 2 3").with_metric("cases", 3);
        private.valid = true;
        private.score = 35.0;
        private.fuel = Some(7);
        let value = encode_private(Some(&private)).unwrap();
        let text = value.to_string();
        assert!(
            !text.contains("hidden input") && !text.contains("cases"),
            "{text}"
        );
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["fuel", "held_out", "score", "status", "valid", "wall_ms"]
        );
        assert_eq!(
            decode_private(&value).unwrap(),
            Some(held_out_numbers(&private))
        );
        let none = encode_private(None).unwrap();
        assert_eq!(none, serde_json::Value::Null);
        assert_eq!(decode_private(&none).unwrap(), None);
        let mut invalid = private.clone();
        invalid.score = f64::NEG_INFINITY;
        let back = decode_private(&encode_private(Some(&invalid)).unwrap()).unwrap();
        assert_eq!(back.and_then(|p| p.score), None);
    }
}
