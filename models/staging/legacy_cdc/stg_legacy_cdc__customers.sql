{{ config(enabled=var('cdc_customers', false)) }}

-- The customer master's current state as the journals leave it (see the macro).
with

combined as (
    {{ journal_current_state(
        source('legacy_cdc', 'customers_base'),
        source('legacy_cdc', 'customers_changes'),
        'cm_cust_no',
        ['cm_cust_no', 'cm_name', 'cm_city', 'cm_country', 'cm_currency', 'cm_status',
         'cm_credit_limit']
    ) }}
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
