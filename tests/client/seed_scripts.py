"""The seed example scripts (../shared/seeds/000_2c098e8f9dbefa54.txt), verbatim.

Only two things differ from the seed text: the import and constructor line
(`from reconciler import MLClient` / `client = MLClient(hosts=[SANDBOX_URL])` instead of
`from elasticsearch import Elasticsearch` / `Elasticsearch(hosts=[...])`), and the one-minute
sleep, replaced by seeding the results the job would have produced (`seed_results()`).
The seed document lost the leading whitespace of loop bodies; it is restored here.
The monitoring example is split where the seed's `update_job` meets Elasticsearch's rule that
`analysis_limits` cannot change while the job is open (es-ml-api.md §1.6).
"""

HEADER = """\
from reconciler import MLClient
client = MLClient(hosts=[SANDBOX_URL])
"""

ANOMALY_DETECTION = """\
# Create an anomaly detection job
client.ml.put_job(
job_id="transaction_anomalies",
description="Detect anomalies in transaction amounts",
analysis_config={
"bucket_span": "15m",
"detectors": [
{
"function": "mean",
"field_name": "amount",
"by_field_name": "user_id"
},
{
"function": "high_count",
"by_field_name": "merchant_category"
}
],
"influencers": ["user_id", "merchant_category"]
},
data_description={
"time_field": "@timestamp",
"time_format": "epoch_ms"
},
analysis_limits={
"model_memory_limit": "100mb"
},
model_plot_config={
"enabled": True,
"terms": "user_id"
}
)
# Create datafeed for the job
client.ml.put_datafeed(
datafeed_id="transaction_anomalies_feed",
job_id="transaction_anomalies",
indices=["transactions-*"],
query={
"bool": {
"must": [
{"range": {"amount": {"gt": 0}}},
{"term": {"status": "completed"}}
]
}
},
frequency="5m",
query_delay="30s",
scroll_size=1000
)
# Open the job and start the datafeed
client.ml.open_job(job_id="transaction_anomalies")
client.ml.start_datafeed(
datafeed_id="transaction_anomalies_feed",
start="2024-01-01T00:00:00Z"
)
# Wait for analysis, then get results
seed_results()  # instead of: import time; time.sleep(60)
# Get anomaly buckets
buckets = client.ml.get_buckets(
job_id="transaction_anomalies",
anomaly_score=75, # Only high-score anomalies
size=10,
sort="anomaly_score",
desc=True
)
for bucket in buckets.body['buckets']:
    print(f"Anomaly at {bucket['timestamp']}, score: {bucket['anomaly_score']}")
# Get detailed anomaly records
records = client.ml.get_records(
job_id="transaction_anomalies",
record_score=50,
size=20
)
for record in records.body['records']:
    print(f"Record anomaly: {record['function']} on {record['field_name']}")
    print(f" Typical: {record.get('typical', 'N/A')}, Actual: {record.get('actual', 'N/A')}")
    print(f" User: {record.get('by_field_value', 'N/A')}")
"""

CHURN_CLASSIFICATION = """\
# Create a classification job to predict customer churn
client.ml.put_data_frame_analytics(
id="customer_churn_prediction",
description="Predict customer churn based on usage patterns",
source={
"index": ["customer_data"],
"query": {
"bool": {
"must": [
{"range": {"account_age_days": {"gte": 30}}},
{"exists": {"field": "churned"}}
]
}
}
},
dest={
"index": "customer_churn_results",
"results_field": "ml_results"
},
analysis={
"classification": {
"dependent_variable": "churned",
"training_percent": 80,
"num_top_feature_importance_values": 5,
"prediction_field_name": "churn_prediction"
}
},
analyzed_fields={
"includes": [
"monthly_spend", "support_tickets", "login_frequency",
"feature_usage_score", "account_age_days", "churned"
]
},
model_memory_limit="200mb"
)
# Start the analytics job
client.ml.start_data_frame_analytics(id="customer_churn_prediction")
# Monitor job progress
job_stats = client.ml.get_data_frame_analytics_stats(id="customer_churn_prediction")
progress = job_stats.body['data_frame_analytics'][0]['progress']
print(f"Progress: {progress}")
# Once complete, examine results
results = client.search(
index="customer_churn_results",
query={"match_all": {}},
size=10,
sort=[{"ml_results.churn_prediction_probability": "desc"}]
)
for hit in results.body['hits']['hits']:
    customer = hit['_source']
    ml_results = customer['ml_results']
    print(f"Customer ID: {customer.get('customer_id', 'N/A')}")
    print(f" Churn prediction: {ml_results['churn_prediction']}")
    print(f" Probability: {ml_results['churn_prediction_probability']:.3f}")
    print(f" Top features: {ml_results.get('feature_importance', [])[:3]}")
"""

FRAUD_OUTLIERS = """\
# Create outlier detection job for fraud detection
client.ml.put_data_frame_analytics(
id="fraud_outlier_detection",
description="Detect fraudulent transactions using outlier detection",
source={
"index": ["transactions"],
"query": {
"range": {
"@timestamp": {
"gte": "now-7d"
}
}
}
},
dest={
"index": "fraud_outliers",
"results_field": "outlier_score"
},
analysis={
"outlier_detection": {
"n_neighbors": 20,
"method": "lof", # Local Outlier Factor
"feature_influence_threshold": 0.1,
"outlier_fraction": 0.05
}
},
analyzed_fields={
"includes": [
"amount", "transaction_hour", "merchant_category_code",
"days_since_last_transaction", "amount_deviation_from_avg"
]
},
model_memory_limit="150mb"
)
# Start outlier detection
client.ml.start_data_frame_analytics(id="fraud_outlier_detection")
# Query for high outlier scores (potential fraud)
outliers = client.search(
index="fraud_outliers",
query={
"range": {
"outlier_score.outlier_score": {"gte": 0.7}
}
},
sort=[{"outlier_score.outlier_score": "desc"}],
size=50
)
for hit in outliers.body['hits']['hits']:
    transaction = hit['_source']
    score = transaction['outlier_score']['outlier_score']
    print(f"Transaction ID: {transaction.get('transaction_id', 'N/A')}")
    print(f" Outlier score: {score:.3f}")
    print(f" Amount: ${transaction.get('amount', 'N/A')}")
    print(f" Merchant: {transaction.get('merchant_name', 'N/A')}")
"""

MONITORING = """\
# Get job statistics and health
job_stats = client.ml.get_job_stats(job_id="transaction_anomalies")
job_info = job_stats.body['jobs'][0]
print(f"Job state: {job_info['state']}")
print(f"Data counts: {job_info['data_counts']}")
print(f"Model size: {job_info['model_size_stats']}")
print(f"Processed records: {job_info['data_counts']['processed_record_count']}")
# Get model snapshots
snapshots = client.ml.get_model_snapshots(
job_id="transaction_anomalies",
size=5,
sort="timestamp",
desc=True
)
latest_snapshot = snapshots.body['model_snapshots'][0]
print(f"Latest snapshot: {latest_snapshot['snapshot_id']}")
print(f"Model size: {latest_snapshot['model_size_stats']['total_by_field_count']}")
"""

UPDATE_JOB = """\
# Update job configuration
client.ml.update_job(
job_id="transaction_anomalies",
description="Updated: Detect anomalies in transaction amounts with enhanced settings",
analysis_limits={
"model_memory_limit": "150mb" # Increase memory limit
},
model_plot_config={
"enabled": True,
"terms": "user_id,merchant_category" # Add more terms
}
)
"""

CLOSE = """\
# Close job and datafeed when done
client.ml.stop_datafeed(datafeed_id="transaction_anomalies_feed")
client.ml.close_job(job_id="transaction_anomalies")
"""


def asynchronous(script: str) -> str:
    """The same flow for `AsyncMLClient`: every client call awaited, inside `async def main()`."""
    body = script.replace("client.ml.", "await client.ml.").replace(
        "client.search(", "await client.search("
    )
    body = body.replace("seed_results()", "await seed_results()")
    return "async def main():\n" + "".join(f"    {line}\n" for line in body.splitlines())
