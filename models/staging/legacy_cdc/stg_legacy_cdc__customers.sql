{{ config(enabled=var('cdc_customers', false)) }}

-- The customer master's current state as the journals leave it: the baseline (a full
-- extract at a known journal sequence) overlaid by the latest applied change of each
-- customer after that sequence; a customer whose latest change is a delete is gone.
with

base as (
    select * from {{ source('legacy_cdc', 'customers_base') }}
),

changes as (
    select * from {{ source('legacy_cdc', 'customers_changes') }}
),

baseline as (
    select max(baseline_sequence) as baseline_sequence from base
),

latest_change as (
    select changes.*
    from changes
    cross join baseline
    where changes.sequence > baseline.baseline_sequence
    qualify row_number() over (partition by changes.record_key order by changes.sequence desc) = 1
),

unchanged as (
    select
        base.cm_cust_no,
        base.cm_name,
        base.cm_city,
        base.cm_country,
        base.cm_currency,
        base.cm_status,
        base.cm_credit_limit,
        cast(null as bigint) as last_change_sequence
    from base
    where
        cast(base.cm_cust_no as varchar) not in (
            select latest_change.record_key from latest_change
        )
),

changed as (
    select
        cm_cust_no,
        cm_name,
        cm_city,
        cm_country,
        cm_currency,
        cm_status,
        cm_credit_limit,
        sequence as last_change_sequence
    from latest_change
    where operation <> 'delete'
),

combined as (
    select * from unchanged
    union all
    select * from changed
),

renamed as (
    select
        cm_cust_no as customer_number,
        cm_name as customer_name,
        cm_city as city,
        cm_country as country_code,
        cm_currency as currency_code,
        cm_status as status_code,
        cm_credit_limit as credit_limit,
        last_change_sequence
    from combined
)

select * from renamed
