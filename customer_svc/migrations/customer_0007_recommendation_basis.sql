-- What a run's recommendations were computed from (recommendations.recommendation_basis: the billed
-- month, its summary version, the tariffs and the rules). A run whose basis equals the previous
-- one's renews only the recommendations of customers whose segment changed.
ALTER TABLE customers.segmentation_runs ADD COLUMN recommendation_basis TEXT;
